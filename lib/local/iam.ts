/**
 * IAM on the local emulator, through its Query API signed with the emulator's root key (the project
 * has no IAM SDK client): users and their keys for the auth tests, roles' policies for lib/local/adapt.ts.
 */
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { EmulatorError, EmulatorErrorCode } from './emulator.ts';

/** One IAM Query API action; answers its XML, or throws with the emulator's error. */
export async function iam(endpoint: string, action: string, params: Record<string, string> = {}): Promise<string> {
  const url = new URL('/', endpoint);
  const body = new URLSearchParams({ Action: action, Version: '2010-05-08', ...params }).toString();
  const signer = new SignatureV4({
    service: 'iam',
    region: 'us-east-1',
    credentials: { accessKeyId: process.env.AWS_ACCESS_KEY_ID ?? 'test', secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'test' },
    sha256: Sha256,
  });
  const headers = { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
  const signed = await signer.sign({ method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}), path: '/', query: {}, headers, body });
  const { host: _host, ...send } = signed.headers;
  const response = await fetch(url, { method: 'POST', headers: send, body });
  const text = await response.text();
  if (!response.ok) throw new EmulatorError(EmulatorErrorCode.COMMAND_FAILED, `IAM ${action} answered ${response.status}: ${text.slice(0, 500)}`);
  return text;
}

/** Every value of `<field>` in an IAM answer, in order. */
export const xmlValues = (xml: string, field: string): string[] => [...xml.matchAll(new RegExp(`<${field}>([^<]*)</${field}>`, 'g'))].map((m) => decodeXml(m[1]!));
export const decodeXml = (s: string): string => s.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** An IAM user with one access key and the given managed policies attached. */
export async function createUser(endpoint: string, name: string, policyArns: readonly string[]): Promise<{ name: string; arn: string; accessKeyId: string; secretAccessKey: string }> {
  const [arn] = xmlValues(await iam(endpoint, 'CreateUser', { UserName: name }), 'Arn');
  for (const policyArn of policyArns) await iam(endpoint, 'AttachUserPolicy', { UserName: name, PolicyArn: policyArn });
  const key = await iam(endpoint, 'CreateAccessKey', { UserName: name });
  return { name, arn: arn!, accessKeyId: xmlValues(key, 'AccessKeyId')[0]!, secretAccessKey: xmlValues(key, 'SecretAccessKey')[0]! };
}

/** Deletes a user made by `createUser`: its policies detached, its keys deleted. */
export async function deleteUser(endpoint: string, name: string): Promise<void> {
  for (const policyArn of xmlValues(await iam(endpoint, 'ListAttachedUserPolicies', { UserName: name }), 'PolicyArn')) await iam(endpoint, 'DetachUserPolicy', { UserName: name, PolicyArn: policyArn });
  for (const keyId of xmlValues(await iam(endpoint, 'ListAccessKeys', { UserName: name }), 'AccessKeyId')) await iam(endpoint, 'DeleteAccessKey', { UserName: name, AccessKeyId: keyId });
  await iam(endpoint, 'DeleteUser', { UserName: name });
}

/** A statement of an IAM or resource policy, as far as the local tooling reads one. */
export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}
export const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The names of every role whose name starts with `prefix`. */
export async function roleNames(endpoint: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await iam(endpoint, 'ListRoles', { MaxItems: '1000', ...(marker ? { Marker: marker } : {}) });
    names.push(...xmlValues(page, 'RoleName').filter((name) => name.startsWith(prefix)));
    marker = xmlValues(page, 'IsTruncated')[0] === 'true' ? xmlValues(page, 'Marker')[0] : undefined;
  } while (marker);
  return names;
}

/** A role's inline policies, each with its statements. */
export async function inlinePolicies(endpoint: string, role: string): Promise<{ name: string; statements: PolicyStatement[] }[]> {
  const names = xmlValues(await iam(endpoint, 'ListRolePolicies', { RoleName: role }), 'member');
  return Promise.all(names.map(async (name) => {
    const [document] = xmlValues(await iam(endpoint, 'GetRolePolicy', { RoleName: role, PolicyName: name }), 'PolicyDocument');
    const parsed = JSON.parse(decodeURIComponent(document!)) as { Statement: PolicyStatement | PolicyStatement[] };
    return { name, statements: asList(parsed.Statement) };
  }));
}

export async function putInlinePolicy(endpoint: string, role: string, name: string, statements: readonly PolicyStatement[]): Promise<void> {
  await iam(endpoint, 'PutRolePolicy', { RoleName: role, PolicyName: name, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }) });
}
