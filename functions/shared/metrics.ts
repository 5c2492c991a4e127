/**
 * Metrics as CloudWatch embedded metric format: one structured log line that CloudWatch Logs turns into
 * metrics of the namespace `Phi`, with the given dimensions. No API call, no extra permission.
 * @see https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
import type { Logger } from './log.ts';

export const METRICS_NAMESPACE = 'Phi';

export function emitMetrics(values: Readonly<Record<string, number>>, dimensions: Readonly<Record<string, string>>, log: Logger, now: () => Date = () => new Date()): void {
  log.info('metrics', {
    _aws: {
      Timestamp: now().getTime(),
      CloudWatchMetrics: [{ Namespace: METRICS_NAMESPACE, Dimensions: [Object.keys(dimensions)], Metrics: Object.keys(values).map((Name) => ({ Name, Unit: 'Count' })) }],
    },
    ...dimensions,
    ...values,
  });
}
