/**
 * The command line's shape: the flags `parseArgs` knows, which command takes which flags and
 * arguments, the help texts, and the errors and conversions for values given as flags.
 */
import type { ParseArgsConfig } from 'node:util'
import { CdnPublishError, Codes } from '../errors.js'

export const DEFAULT_MANIFEST = 'cdn-manifest.json'

const COMMON_HELP = `Bucket and credentials:
  --bucket <name>          bucket (env CDN_PUBLISH_BUCKET)
  --prefix <prefix>        key prefix, such as 'static/' (env CDN_PUBLISH_PREFIX)
  --region <region>        region (env CDN_PUBLISH_REGION, then AWS_REGION)
  --endpoint <url>         S3-compatible endpoint (env CDN_PUBLISH_ENDPOINT, then AWS_ENDPOINT_URL_S3)
  --force-path-style       address buckets as endpoint/bucket (env CDN_PUBLISH_FORCE_PATH_STYLE)
  --manifest <name>        stable manifest's name (default ${DEFAULT_MANIFEST})
  --config <file>          a .json, .js or .mjs file with { publish, retention, manifest }
  Credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE,
  SSO, web identity, instance role). Precedence: flags > environment > config file > defaults.`

const RETENTION_HELP = `Retention (defaults: --releases 3 --min-age 1h --grace 48h --orphans keep):
  --releases <n>           keep the current release and the n-1 before it
  --min-age <duration>     keep any release published less than this ago ('90s', '15m', '1h', '2d')
  --grace <duration>       keep a release until this long after it was replaced
  --orphans keep|delete    objects no release names: keep, or delete once older than grace
  --allow-root-prefix      allow pruning with an empty prefix (the bucket is this site's alone)`

export const HELP: Record<string, string> = {
  main: `Usage: cdn-publish <command> [options]

Commands:
  status                   releases (id, label, state, published, replaced, files, bytes, kept or why not)
                           and what a prune would delete now
  publish <dir>            publish a built output directory that has a ${DEFAULT_MANIFEST}, then prune
  prune                    delete the files and records of releases the retention policy no longer keeps
  rollback <release>       point the stable manifest and mutable files back at a retained release

Run cdn-publish <command> --help for the options of a command.
Exit codes: 0 done, 1 failed, 2 usage error.`,
  status: `Usage: cdn-publish status [options]

Lists the releases under the prefix with their state and sizes, why each is kept or not, and
what a prune would delete now. Reads only.

  --json                   print a JSON document instead of a table

${RETENTION_HELP}

${COMMON_HELP}`,
  publish: `Usage: cdn-publish publish <dir> [options]

Publishes the directory <dir> as it is now: the release record, fingerprinted files, other
files, then the stable manifest. Then prunes. A build's ${DEFAULT_MANIFEST} is reconciled with
what a framework added or removed after the build; a directory without one (any static site)
gets one built from its files. Files named <name>-<hash>.<ext>, <name>.<hash>.<ext> or
<hash>.<ext> are immutable, the rest (and every page) mutable. Public files that pages written
after the build name get fingerprinted copies, and the pages name those.

  --dry-run                print the plan (every file added or classified, uploads, skips,
                           deletions, each with its reason); change neither bucket nor <dir>
  --label <text>           label stored with the release (env CDN_PUBLISH_LABEL)
  --concurrency <n>        uploads in flight (default 32)
  --no-prune               publish only
  --base <url>             URL prefix the pages are served under, for a directory without a
                           manifest (default /; a build's manifest says its own)
  --no-fingerprint         leave the public files that late pages name as they are
  --report <file>          where the report goes (default
                           node_modules/.cache/cdn-publish/cdn-publish-report.json here)
  --no-report              write no report

${RETENTION_HELP}

${COMMON_HELP}`,
  prune: `Usage: cdn-publish prune [options]

Deletes the files of releases that the retention policy no longer keeps, never a file a kept
release names, never anything outside the prefix.

  --dry-run                print the plan with a reason for every decision, delete nothing

${RETENTION_HELP}

${COMMON_HELP}`,
  rollback: `Usage: cdn-publish rollback <release> [options]

Restores the stable manifest and the mutable files (index.html, …) of a retained release and makes
it current. Refuses a release whose files are no longer all in the bucket, naming them. <release>
may be a unique prefix of the id (cdn-publish status lists them).

  --dry-run                print what would be restored, write nothing

${COMMON_HELP}`,
}

export const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  bucket: { type: 'string' },
  prefix: { type: 'string' },
  region: { type: 'string' },
  endpoint: { type: 'string' },
  'force-path-style': { type: 'boolean' },
  manifest: { type: 'string' },
  config: { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  label: { type: 'string' },
  concurrency: { type: 'string' },
  'no-prune': { type: 'boolean' },
  base: { type: 'string' },
  'no-fingerprint': { type: 'boolean' },
  report: { type: 'string' },
  'no-report': { type: 'boolean' },
  releases: { type: 'string' },
  'min-age': { type: 'string' },
  grace: { type: 'string' },
  orphans: { type: 'string' },
  'allow-root-prefix': { type: 'boolean' },
} satisfies ParseArgsConfig['options']

/** Flags each command accepts besides the common ones. */
const COMMON = ['help', 'bucket', 'prefix', 'region', 'endpoint', 'force-path-style', 'manifest', 'config']
const RETENTION = ['releases', 'min-age', 'grace', 'orphans', 'allow-root-prefix']
export const ACCEPTS: Record<string, string[]> = {
  status: [...COMMON, ...RETENTION, 'json'],
  publish: [...COMMON, ...RETENTION, 'dry-run', 'label', 'concurrency', 'no-prune', 'base', 'no-fingerprint', 'report', 'no-report'],
  prune: [...COMMON, ...RETENTION, 'dry-run'],
  rollback: [...COMMON, 'dry-run'],
}
export const POSITIONALS: Record<string, string | undefined> = { status: undefined, publish: '<dir>', prune: undefined, rollback: '<release>' }

export type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string }

export class UsageError extends Error {}

/** Where a command writes: its output (`out`) and its messages (`err`). */
export interface Io {
  out(text: string): void
  err(text: string): void
}

/** Option name → the flag that sets it. */
export const FLAG_OF: Record<string, string> = {
  bucket: '--bucket',
  prefix: '--prefix',
  region: '--region',
  endpoint: '--endpoint',
  forcePathStyle: '--force-path-style',
  dryRun: '--dry-run',
  label: '--label',
  concurrency: '--concurrency',
  releases: '--releases',
  minAge: '--min-age',
  grace: '--grace',
  orphans: '--orphans',
  allowRootPrefix: '--allow-root-prefix',
}

/** An INVALID_OPTION about a value given as a flag names the flag, not the option. */
export function asFlagError<T>(resolve: () => T, fromFlags: Record<string, unknown>, scope: string): T {
  try {
    return resolve()
  } catch (err) {
    const option = err instanceof CdnPublishError ? String(err.data.option ?? '') : ''
    const name = option.startsWith(scope) ? option.slice(scope.length) : ''
    if (!(err instanceof CdnPublishError) || !(name in fromFlags) || !FLAG_OF[name]) throw err
    throw new CdnPublishError(err.code, err.message.replace(`\`${option}\``, `\`${FLAG_OF[name]}\``), { ...err.data, option: FLAG_OF[name] })
  }
}

export function integerFlag(name: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new CdnPublishError(Codes.INVALID_OPTION, `Invalid option \`--${name}\`: expected a whole number, got ${JSON.stringify(value)}.`, { option: `--${name}` })
  return Number(value)
}
