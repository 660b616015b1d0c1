// esbuild bundles the stylesheet that index.js imports for its side effect; TypeScript only
// needs to know that such an import resolves.
declare module "*.css";
