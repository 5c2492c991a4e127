/**
 * A deployed schedule's next fire time after an instant, with the plan's own fire-time code: what the
 * control API's `GET /health` tells (the one part of the plan bundled into a function). Pure.
 */
import type { HealthSchedule } from '../../model/contract/health.ts';
import { compileSchedule } from './index.ts';
import { translateRate } from './rate-at.ts';

/**
 * The schedule's next fire time after `now` (UTC ISO), as Scheduler fires it; `undefined` when it will
 * not fire again, or for a rate whose phase is unknown: Scheduler counts a rate from its start date when
 * it is still to come, else from when the schedule was deployed, so the phase comes from `anchor` (a
 * scheduled time it fired at, e.g. its latest scheduled run's).
 */
export function nextFireTime(schedule: HealthSchedule, now: Date, anchor?: string): string | undefined {
  const end = schedule.endDate === undefined ? undefined : Date.parse(schedule.endDate);
  if (end !== undefined && end <= now.getTime()) return undefined;
  if (schedule.rate !== undefined) {
    const start = schedule.startDate === undefined ? undefined : Date.parse(schedule.startDate);
    if (start !== undefined && start > now.getTime()) return new Date(start).toISOString();
    if (anchor === undefined || Number.isNaN(Date.parse(anchor))) return undefined;
    const rate = translateRate(schedule.rate);
    if ('code' in rate) return undefined;
    const times = rate.fireTimes('UTC', now, 1, new Date(anchor));
    const next = Array.isArray(times) ? times[0] : undefined;
    return next === undefined || (end !== undefined && Date.parse(next) > end) ? undefined : new Date(next).toISOString();
  }
  const compiled = compileSchedule(schedule, now, { count: 1 });
  const next = compiled.ok ? compiled.schedule.next[0] : undefined;
  return next === undefined ? undefined : new Date(next).toISOString();
}
