/**
 * React Router 7 framework mode with `ssr: false`: `build/client` with the route manifest and the
 * `index.html` the server build writes (./starter.ts).
 */
import { describeStarter } from './starter.js'

describeStarter({
  app: 'react-router-spa',
  outputs: ['build', '.react-router'],
  published: 'build/client',
  pages: ['index.html'],
})
