/**
 * The wire constants of tandem.v1 that the client needs too. No imports: frames.ts builds TypeBox
 * schemas at load time, and the client (which has no runtime dependencies) reads these from here.
 */

/** The WebSocket subprotocol a client offers and the server selects. */
export const SUBPROTOCOL = 'tandem.v1';

/** Request ids are chosen by the client, unique among its requests in flight: 1 … 2³¹−1. */
export const MAX_REQUEST_ID = 2 ** 31 - 1;
