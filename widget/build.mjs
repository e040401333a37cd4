// Builds the widget into the web app's static folder: one JS file (socket.io-client bundled in)
// and one CSS file. Run with `npm run build` or `make widget`; the output is committed so that
// `make run` needs no Node.js. Also refreshes the vendored axe-core used by the browser tests.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(here, "../bot/web/static/widget");
mkdirSync(out, { recursive: true });

const common = { bundle: true, minify: true, legalComments: "eof", logLevel: "info" };
await build({
  ...common,
  entryPoints: [resolve(here, "src/foretagslotsen.js")],
  outfile: resolve(out, "foretagslotsen.js"),
  format: "iife",
  target: ["es2020"],
  banner: { js: "/* Företagslotsen chat widget. Source and licences: widget/ in the project repository. */" },
});
await build({
  ...common,
  entryPoints: [resolve(here, "src/foretagslotsen.css")],
  outfile: resolve(out, "foretagslotsen.css"),
  target: ["chrome90", "firefox90", "safari15"],
});

const vendor = resolve(here, "../tests/web/vendor");
mkdirSync(vendor, { recursive: true });
copyFileSync(resolve(here, "node_modules/axe-core/axe.min.js"), resolve(vendor, "axe.min.js"));
copyFileSync(resolve(here, "node_modules/axe-core/LICENSE"), resolve(vendor, "axe-core.LICENSE"));
