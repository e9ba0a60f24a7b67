import { serveRealtimeWorker, type SharedWorkerScopeLike } from '../../src/client';

/** The SharedWorker that holds this browser's one realtime connection for every tab (api.ts starts it). */
serveRealtimeWorker(self as unknown as SharedWorkerScopeLike);
