/**
 * Vitest globalSetup: starts the S3 test servers once for the whole run (radosgw and s3rver, or
 * those named in CDN_TEST_SERVERS, e.g. `CDN_TEST_SERVERS=s3rver` for a quick local loop),
 * hands their descriptors to the tests (`inject('s3servers')`) and stops them afterwards.
 *
 * Before that, one apt-get run installs the Debian packages that are missing (the Ceph packages
 * radosgw needs, Chromium for the browser test): see test/servers/packages.ts.
 *
 * A small loopback control server lets a test restart a server's front process
 * (`restartFront(info)` from test/servers/index.ts), since the servers live in this process.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestProject } from 'vitest/node'
import { serversFromEnv, startS3Servers, type S3Server, type S3ServerInfo } from './servers/index.js'
import { installMissingPackages, missingPackages } from './servers/packages.js'

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const names = serversFromEnv()
  await installMissingPackages(missingPackages(names))
  const servers = await startS3Servers(names)
  for (const s of servers) {
    process.stderr.write(`[s3 test servers] ${s.name} at ${s.endpoint}, up in ${(s.startupMs / 1000).toFixed(2)} s\n`)
  }
  const control = await startControlServer(servers)
  const base = `http://127.0.0.1:${(control.address() as AddressInfo).port}`
  const infos: S3ServerInfo[] = servers.map((s) => ({
    name: s.name,
    endpoint: s.endpoint,
    region: s.region,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    ...(s.deniedUser ? { deniedUser: { ...s.deniedUser } } : {}),
    control: `${base}/${s.name}/restart-front`,
    startupMs: s.startupMs,
  }))
  project.provide('s3servers', infos)

  return async () => {
    await new Promise<void>((resolve) => {
      control.closeAllConnections()
      control.close(() => resolve())
    })
    await Promise.allSettled(servers.map((s) => s.stop()))
  }
}

async function startControlServer(servers: S3Server[]): Promise<Server> {
  const server = createServer((req, res) => {
    const m = /^\/([a-z0-9]+)\/restart-front$/.exec(req.url ?? '')
    const target = m && req.method === 'POST' ? servers.find((s) => s.name === m[1]) : undefined
    if (!target) {
      res.writeHead(404).end('unknown control request')
      return
    }
    target.restartFront().then(
      () => res.writeHead(204).end(),
      (err: unknown) => res.writeHead(500).end(err instanceof Error ? err.message : String(err)),
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}
