/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Built into ../build/static/app/ (a STATICFILES_DIRS entry): collectstatic copies, compresses and
// manifests it; Django answers /app/* with index.html; the chunks are content-hashed and long-cached.
export default defineConfig({
  base: "/static/app/",
  plugins: [react()],
  build: {
    outDir: "../build/static/app",
    emptyOutDir: true,
    target: "es2022",
    chunkSizeWarningLimit: 600,
  },
  test: {
    environment: "jsdom",
    globals: true,
    setupFiles: ["./src/test/setup.ts"],
    css: false,
  },
});
