// Vite config for the casweb example: keep casweb out of dependency pre-bundling, so its
// WebAssembly file is served from the package as is in `vite` dev mode.
import { defineConfig } from "vite";

export default defineConfig({
  optimizeDeps: { exclude: ["casweb"] },
});
