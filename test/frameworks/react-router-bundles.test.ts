/**
 * React Router 7 framework mode, SSR, with two `serverBundles` (two server builds in one
 * command): `build/client` is published once, after the last server build; the pages as
 * react-router-serve renders them from each bundle (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'react-router-bundles',
  outputs: ['build', '.react-router'],
  published: 'build/client',
  server: { command: () => ({ cmd: process.execPath, args: ['node_modules/@react-router/serve/bin.js', 'build/server/main/index.js'] }), paths: ['/'] },
})
