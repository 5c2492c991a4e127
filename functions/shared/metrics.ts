/**
 * Metrics as CloudWatch embedded metric format: one structured log line that CloudWatch Logs turns into
 * metrics of the namespace `Phi`, with the given dimensions. No API call, no extra permission. The run
 * and job metrics, their units and dimensions are named in `lib/model/contract/metrics.ts`.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { METRICS, METRICS_NAMESPACE, MetricUnit } from '../../lib/model/contract/metrics.ts';
import type { Logger } from './log.ts';

/** The most values one metric may carry in one line (the format's limit). */
export const MAX_VALUES_PER_LINE = 100;

const unitOf = (name: string): MetricUnit => (Object.hasOwn(METRICS, name) ? METRICS[name as keyof typeof METRICS] : MetricUnit.Count);

/**
 * Emits `values` (a number, or several samples of one metric: more than 100 are spread over several
 * lines) under `dimensions`. Nothing is written for no values.
 */
export function emitMetrics(values: Readonly<Record<string, number | readonly number[]>>, dimensions: Readonly<Record<string, string>>, log: Logger, now: () => Date = () => new Date()): void {
  const entries = Object.entries(values).filter(([, v]) => typeof v === 'number' || v.length > 0);
  const lines = Math.max(0, ...entries.map(([, v]) => (typeof v === 'number' ? 1 : Math.ceil(v.length / MAX_VALUES_PER_LINE))));
  for (let line = 0; line < lines; line++) {
    const these = entries.flatMap(([name, v]): [string, number | number[]][] => {
      if (typeof v === 'number') return line === 0 ? [[name, v]] : [];
      const chunk = v.slice(line * MAX_VALUES_PER_LINE, (line + 1) * MAX_VALUES_PER_LINE);
      return chunk.length > 0 ? [[name, chunk]] : [];
    });
    log.info('metrics', {
      _aws: {
        Timestamp: now().getTime(),
        CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: these.map(([Name]) => ({ Name, Unit: unitOf(Name) })) }],
      },
      ...dimensions,
      ...Object.fromEntries(these),
    });
  }
}
