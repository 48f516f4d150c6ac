// Bundles the pages' scripts (our ES modules + CodeMirror, marked, DOMPurify, KaTeX... from
// node_modules, pinned by package-lock.json) into flask_notebook/static/flask_notebook/build/.
// One minified entry per page and one CSS file; KaTeX's fonts are copied next to the CSS, so a
// page needs nothing beyond our server. Code splitting is on: what a page needs only sometimes
// (widgets, chart libraries, terminal, language grammars) is a dynamic `import()` and lands in
// build/chunks/, fetched the first time it is needed. The build directory is not committed:
// `make` runs this.
import * as esbuild from "esbuild";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const src = `${root}flask_notebook/static/flask_notebook/src`;
const outdir = `${root}flask_notebook/static/flask_notebook/build`;

// `--inputs` builds nothing: it prints every file the bundle is made from, one per line
// (relative to the project), so a test can check that the Makefile's stamp depends on each.
const inputsOnly = process.argv.includes("--inputs");
if (!inputsOnly) rmSync(outdir, { recursive: true, force: true });
const result = await esbuild.build({
  write: !inputsOnly,
  absWorkingDir: root,
  // One entry per line: page scripts and stylesheets.
  entryPoints: {
    notebook: `${src}/notebook/main.js`,
    "notebook-style": `${src}/notebook/notebook.css`,
    "widgets-style": `${src}/notebook/widgets.css`,
    edit: `${src}/edit/main.js`,
    "edit-style": `${src}/edit/edit.css`,
    terminal: `${src}/terminal/main.js`,
  },
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
  minify: true,
  sourcemap: "linked",
  format: "esm",
  target: ["es2022", "chrome110", "firefox110", "safari16"],
  // SVG as text: JupyterLab's icons (bundled with the widgets chunk) import their SVG source.
  loader: { ".woff2": "file", ".woff": "file", ".ttf": "file", ".svg": "text" },
  assetNames: "fonts/[name]",
  legalComments: "linked",
  metafile: true,
  logLevel: "warning",
});
if (inputsOnly) {
  // "(disabled):x" names a module a package's "browser" field turns off: no file to depend on.
  // Written before exiting: process.exit() would cut a long list written to a pipe.
  const list = Object.keys(result.metafile.inputs).filter((path) => !path.startsWith("(disabled):"));
  await new Promise((resolve) => process.stdout.write(`${list.join("\n")}\n`, resolve));
  process.exit(0);
}
// Each script and stylesheet also gzipped beside it (name.gz), once, at the best level: the
// server sends that to browsers that accept gzip (blueprints/static.py), so the bytes on the
// wire are these without any compression work per request.
for (const [name, info] of Object.entries(result.metafile.outputs)) {
  if (!/\.(js|css)$/.test(name)) continue;
  const gzipped = gzipSync(readFileSync(`${root}${name}`), { level: 9 });
  writeFileSync(`${root}${name}.gz`, gzipped);
  if (!name.includes("/chunks/")) {
    console.log(`${name.slice(name.indexOf("static/"))}  ${(info.bytes / 1024).toFixed(0)} KiB, gzip ${(gzipped.length / 1024).toFixed(0)} KiB`);
  }
}
