/** What the clients process counts in one storm, for either server (the Socket.IO side leaves the Tandem-only counters at 0). */
export interface StormStats {
  clients: number;
  /** Clients not back when the wait ended. */
  notBack: number;
  /** nowMicros() at which each client was back: subscribed again (Tandem: and recovered, or resynced from the REST snapshot). */
  doneAt: number[];
  /** Tandem: 'recovered' (rec: true) or 'resynced' (rec: false, then the REST snapshot). */
  outcomes: Record<string, number>;
  /** `rec: false` answers by `why`. */
  recoveryRefused: Record<string, number>;
  /** Connection attempts after the restart began, and those that failed, by reason ('HTTP 503', 'ECONNREFUSED', …). */
  attempts: number;
  failed: Record<string, number>;
  /** Resync reads over REST that failed, by reason. */
  restFailed: Record<string, number>;
  duplicates: number;
  lost: number;
  /** Live publications a resync's snapshot already held (expected, not duplicates). */
  overlap: number;
}

export const emptyStats = (): StormStats => ({ clients: 0, notBack: 0, doneAt: [], outcomes: {}, recoveryRefused: {}, attempts: 0, failed: {}, restFailed: {}, duplicates: 0, lost: 0, overlap: 0 });

export const bump = (counts: Record<string, number>, key: string): void => void (counts[key] = (counts[key] ?? 0) + 1);
