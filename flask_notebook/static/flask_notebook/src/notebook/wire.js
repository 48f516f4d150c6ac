// The kernel WebSocket's v1 framing (subprotocol v1.kernel.websocket.jupyter.org, contract 9.4):
// u64le N, then N u64le offsets, then the channel name and the parts header, parent_header,
// metadata, content (UTF-8 JSON) and any binary buffers. Every message is one binary frame.

export const V1_PROTOCOL = "v1.kernel.websocket.jupyter.org";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A message {channel, header, parent_header, metadata, content, buffers?} as one frame. */
export function serialize(msg) {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content]
    .map((part) => encoder.encode(JSON.stringify(part || {})));
  for (const buffer of msg.buffers || []) {
    parts.push(buffer instanceof ArrayBuffer ? new Uint8Array(buffer)
      : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength));
  }
  const channel = encoder.encode(msg.channel);
  const count = parts.length + 2;
  const offsets = [8 * (count + 1)];
  offsets.push(offsets[0] + channel.length);
  for (const part of parts) offsets.push(offsets[offsets.length - 1] + part.length);
  const frame = new Uint8Array(offsets[offsets.length - 1]);
  const view = new DataView(frame.buffer);
  view.setBigUint64(0, BigInt(count), true);
  offsets.forEach((offset, i) => view.setBigUint64(8 * (i + 1), BigInt(offset), true));
  frame.set(channel, offsets[0]);
  parts.forEach((part, i) => frame.set(part, offsets[i + 1]));
  return frame.buffer;
}

/** One frame (an ArrayBuffer) as a message; buffers are DataViews over the frame. */
export function deserialize(data) {
  const view = new DataView(data);
  const count = Number(view.getBigUint64(0, true));
  const offsets = [];
  for (let i = 0; i < count; i++) offsets.push(Number(view.getBigUint64(8 * (i + 1), true)));
  const slice = (i) => new Uint8Array(data, offsets[i], offsets[i + 1] - offsets[i]);
  const json = (i) => {
    const text = decoder.decode(slice(i));
    return text ? JSON.parse(text) : {};
  };
  const msg = {
    channel: decoder.decode(slice(0)),
    header: json(1),
    parent_header: json(2),
    metadata: json(3),
    content: json(4),
    buffers: [],
  };
  for (let i = 5; i < count - 1; i++) msg.buffers.push(new DataView(data, offsets[i], offsets[i + 1] - offsets[i]));
  return msg;
}
