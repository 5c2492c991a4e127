/** The deployed platform, found through its stack's outputs (AWS, or the emulator at AWS_ENDPOINT_URL). */
import { CloudFormationClient, type CloudFormationClientConfig, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ClientError, ClientErrorCode } from './errors.ts';
import { PLATFORM_STACK } from '../model/names.ts';

/** The outputs of the PhiPlatform stack: ApiUrl, ApiId, TableName, DeadLetterQueueUrl, … */
export async function platformOutputs(options: { region?: string; endpoint?: string; credentials?: CloudFormationClientConfig['credentials'] } = {}): Promise<Record<string, string>> {
  const cfn = new CloudFormationClient({ ...(options.region ? { region: options.region } : {}), ...(options.endpoint ? { endpoint: options.endpoint } : {}), ...(options.credentials ? { credentials: options.credentials } : {}) });
  const stack = (await cfn.send(new DescribeStacksCommand({ StackName: PLATFORM_STACK }))).Stacks?.[0];
  return Object.fromEntries((stack?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

/** One output, or an error that says Phi is not deployed where the credentials point. */
export function requireOutput(outputs: Record<string, string>, key: string): string {
  const value = outputs[key];
  if (!value) throw new ClientError(ClientErrorCode.NOT_DEPLOYED, `stack ${PLATFORM_STACK} has no ${key} output: is Phi deployed in this account and region?`);
  return value;
}
