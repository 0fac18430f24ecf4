// Types for Vite's import suffixes (e.g. `?url`) used by main.ts.
/// <reference types="vite/client" />
