#!/usr/bin/env node
// Run s3rver (an S3 fake, npm) on 127.0.0.1 for the tests.
//
//   node test/servers/s3rver.mjs [--port N] [--dir DIR] [--exit-with-stdin]
//
// --port 0 (default) takes a free port. Without --dir the data lives in a new temp directory that
// is removed on exit; with --dir the data is kept (so a restarted server serves the same objects).
// --exit-with-stdin: stop when stdin closes, so the server never outlives the process that
// started it.
// When ready, prints `port=<n>` and `endpoint=http://127.0.0.1:<n>` on stdout.
//
// s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17+) only
// offers through its legacy provider: without it every paged listing answers 500. When the flag
// is missing, this script runs itself again in a child process with
// NODE_OPTIONS=--openssl-legacy-provider.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LEGACY = '--openssl-legacy-provider'

function parseArgs(argv) {
  const out = { port: 0, dir: undefined, exitWithStdin: false }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--port') out.port = Number(argv[++i])
    else if (a === '--dir') out.dir = argv[++i]
    else if (a === '--exit-with-stdin') out.exitWithStdin = true
    else {
      process.stderr.write(`s3rver.mjs: unknown argument ${a}\n`)
      process.exit(2)
    }
  }
  if (!Number.isInteger(out.port) || out.port < 0 || out.port > 65535) {
    process.stderr.write('s3rver.mjs: --port must be an integer 0..65535\n')
    process.exit(2)
  }
  return out
}

const hasLegacyProvider =
  process.execArgv.includes(LEGACY) || (process.env.NODE_OPTIONS ?? '').split(/\s+/).includes(LEGACY)

if (!hasLegacyProvider) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${LEGACY}`.trim() },
  })
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)))
} else {
  const args = parseArgs(process.argv.slice(2))
  const require = createRequire(import.meta.url)
  const S3rver = require('s3rver')

  const ownDir = args.dir === undefined
  const directory = args.dir ?? mkdtempSync(join(tmpdir(), 's3rver-'))
  mkdirSync(directory, { recursive: true })

  const server = new S3rver({ address: '127.0.0.1', port: args.port, silent: true, directory })
  const { port } = await server.run()

  let stopping = false
  const stop = async (code = 0) => {
    if (stopping) return
    stopping = true
    // a plain httpServer.close() waits for idle keep-alive sockets; close them too
    server.httpServer?.closeAllConnections?.()
    await server.close().catch(() => {})
    if (ownDir) rmSync(directory, { recursive: true, force: true })
    process.exit(code)
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => void stop(0))
  if (args.exitWithStdin) {
    process.stdin.on('end', () => void stop(0))
    process.stdin.on('error', () => void stop(0))
    process.stdin.resume()
  }

  process.stdout.write(`port=${port}\nendpoint=http://127.0.0.1:${port}\n`)
}
