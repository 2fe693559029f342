// Builds the SPA's one script, static/spa/orders-spa.js, from src/ and the locked
// @azure/msal-browser (package-lock.json). `npm ci && npm run build` reproduces the
// committed file byte for byte (tests/spa/test_bundle.py checks it).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const outfile = process.argv[2] || path.join(here, "..", "static", "spa", "orders-spa.js");

await build({
  entryPoints: [path.join(here, "src", "main.js")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "eof", // MSAL's MIT notice stays in the file
  sourcemap: false,
  charset: "utf8",
  logLevel: "warning",
});
