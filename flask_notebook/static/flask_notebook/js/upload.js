// Uploads through the contents API. Small notebooks go up as notebooks (so the server
// validates them and makes a checkpoint); everything else as base64 files. Files larger than
// one chunk go up in chunks, as JupyterLab sends them: "chunk": 1 for the first, 2, 3, ...
// for the middle ones and -1 for the last, so the server appends as they arrive and the
// progress is real.

import { contentsUrl, pageConfig, request } from "./api.js";

/** Bytes per chunk; a page may set `uploadChunkSize` in its config. */
export function chunkSize() {
  return pageConfig().uploadChunkSize || 1024 * 1024;
}

/** The base64 text of a Blob (without the data: URL's prefix). */
export function blobToBase64(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(",") + 1));
    reader.onerror = () => reject(reader.error || new Error("cannot read the file"));
    reader.readAsDataURL(blob);
  });
}

/**
 * Upload `file` as `apiPath`. Calls onProgress(bytesSent, totalBytes) after each request;
 * `signal` aborts between (and during) requests. Resolves to the server's model.
 */
export async function uploadFile(file, apiPath, { onProgress = () => {}, signal } = {}) {
  const url = contentsUrl(apiPath);
  const size = chunkSize();
  onProgress(0, file.size);
  if (file.size <= size) {
    let model = null;
    if (apiPath.endsWith(".ipynb")) {
      try {
        model = { type: "notebook", format: "json", content: JSON.parse(await file.text()) };
      } catch {
        model = null; // not JSON: keep the bytes as they are
      }
    }
    model = model || { type: "file", format: "base64", content: await blobToBase64(file) };
    const { data } = await request("PUT", url, { body: model, signal });
    onProgress(file.size, file.size);
    return data;
  }
  const count = Math.ceil(file.size / size);
  let data = null;
  for (let index = 0; index < count; index += 1) {
    signal?.throwIfAborted();
    const start = index * size;
    const end = Math.min(file.size, start + size);
    const content = await blobToBase64(file.slice(start, end));
    const chunk = index === count - 1 ? -1 : index + 1;
    ({ data } = await request("PUT", url, { body: { type: "file", format: "base64", chunk, content }, signal }));
    onProgress(end, file.size);
  }
  return data;
}
