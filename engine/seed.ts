/**
 * Publishing the country file's session plans for the coming days. Idempotent: a session whose
 * definition has not changed is left alone, so this runs at every start and every hour.
 */
import type { BookingEngine } from './engine.js';
import { plannedSessions, type SessionInput } from './sessions.js';
import { Status } from './status.js';

export interface SeedReport {
  published: number;
  unchanged: number;
  refused: { input: SessionInput; status: Status }[];
}

export async function publishPlannedSessions(
  engine: BookingEngine,
  fromDay: number,
  days: number,
  onProgress?: (done: number, total: number) => void,
): Promise<SeedReport> {
  const inputs = plannedSessions(engine.country, fromDay, days);
  const report: SeedReport = { published: 0, unchanged: 0, refused: [] };
  const BATCH = 500;
  for (let i = 0; i < inputs.length; i += BATCH) {
    const batch = inputs.slice(i, i + BATCH);
    const outcomes = await Promise.all(batch.map((input) => engine.publishSession(input)));
    outcomes.forEach((outcome, j) => {
      if (!outcome.ok) report.refused.push({ input: batch[j]!, status: outcome.status });
      else if (outcome.changed) report.published += 1;
      else report.unchanged += 1;
    });
    onProgress?.(Math.min(i + BATCH, inputs.length), inputs.length);
  }
  return report;
}
