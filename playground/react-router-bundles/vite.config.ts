import { reactRouter } from '@react-router/dev/vite'
import { defineConfig } from 'vite'
import cdnPublish from '../../dist/index.js'

export default defineConfig({
  plugins: [reactRouter(), cdnPublish()],
})
