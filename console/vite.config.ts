/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the console at http://localhost:5173/console/ and
// proxies the API (`POST /`) to a local Trent. The Host header is passed
// through unchanged (changeOrigin: false): the browser signs `host` with the
// page's own host, and Trent checks the signature against the Host it gets.
const trent = process.env.TRENT_URL ?? 'http://127.0.0.1:4599';

export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    // One stylesheet and one script, named by their content's hash.
    cssCodeSplit: false,
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      '^/$': { target: trent, changeOrigin: false },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
