/**
 * React Router 7 framework mode, SSR: `build/client` after the server build, with the route
 * manifest `assets/manifest-<hash>.js` it writes; the pages as react-router-serve renders them
 * (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'react-router-ssr',
  outputs: ['build', '.react-router'],
  published: 'build/client',
  server: { command: () => ({ cmd: process.execPath, args: ['node_modules/@react-router/serve/bin.js', 'build/server/index.js'] }), paths: ['/', '/lazy'] },
})
