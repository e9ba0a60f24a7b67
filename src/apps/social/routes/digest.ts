import { createHash } from 'node:crypto';

/** A short, stable digest of a text (ETags and scopes carry it instead of the text or the answer). */
export const digest = (text: string): string => createHash('sha256').update(text).digest('base64url').slice(0, 22);
