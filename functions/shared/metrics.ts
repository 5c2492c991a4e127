/**
 * Metrics as CloudWatch embedded metric format: one structured log line that CloudWatch Logs turns into
 * metrics of the namespace `Phi`, with the given dimensions. No API call, no extra permission. The run
 * and job metrics, their units and dimensions are named in `lib/model/contract/metrics.ts`.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import { METRICS, METRICS_NAMESPACE, MetricUnit } from '../../lib/model/contract/metrics.ts';
import type { Logger } from './log.ts';

export { METRICS_NAMESPACE };

const unitOf = (name: string): MetricUnit => (Object.hasOwn(METRICS, name) ? METRICS[name as keyof typeof METRICS] : MetricUnit.Count);

export function emitMetrics(values: Readonly<Record<string, number>>, dimensions: Readonly<Record<string, string>>, log: Logger, now: () => Date = () => new Date()): void {
  if (Object.keys(values).length === 0) return;
  log.info('metrics', {
    _aws: {
      Timestamp: now().getTime(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: unitOf(Name) })) }],
    },
    ...dimensions,
    ...values,
  });
}
