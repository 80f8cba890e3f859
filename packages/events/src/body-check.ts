/**
 * A bounds check of an Avro binary body against its writer schema, run before avsc decodes it.
 * avsc trusts block counts: a corrupt array count of 10^9 makes it allocate and loop 10^9 times
 * before noticing the buffer ended. This walk reads only lengths, counts and indexes, allocates
 * nothing, and rejects any count that cannot fit in the bytes left, any out-of-range union or
 * enum index, any over-long varint, truncation and trailing bytes.
 */

type Node =
  | { kind: 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string' }
  | { kind: 'fixed'; size: number }
  | { kind: 'enum'; symbols: number }
  | { kind: 'array'; items: Node; itemMin: number }
  | { kind: 'map'; values: Node; itemMin: number }
  | { kind: 'union'; branches: Node[] }
  | { kind: 'record'; fields: Node[] };

/** Thrown for any malformed body; the codec wraps it into EVENT_DECODE_FAILED. */
export class BodyError extends Error {
  override name = 'BodyError';
}

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

function compile(schema: unknown, named: Map<string, Node>): Node {
  if (typeof schema === 'string') {
    if (PRIMITIVES.has(schema)) return { kind: schema } as Node;
    const ref = named.get(schema);
    if (ref === undefined) throw new Error(`unknown type ${schema}`);
    return ref;
  }
  if (Array.isArray(schema)) return { kind: 'union', branches: schema.map((s) => compile(s, named)) };
  const node = schema as Record<string, unknown>;
  switch (node.type) {
    case 'record':
    case 'error': {
      // Registered before its fields so a recursive reference finds it.
      const record: { kind: 'record'; fields: Node[] } = { kind: 'record', fields: [] };
      named.set(node.name as string, record);
      for (const field of node.fields as Array<{ type: unknown }>) record.fields.push(compile(field.type, named));
      return record;
    }
    case 'enum': {
      const result: Node = { kind: 'enum', symbols: (node.symbols as unknown[]).length };
      named.set(node.name as string, result);
      return result;
    }
    case 'fixed': {
      const result: Node = { kind: 'fixed', size: node.size as number };
      named.set(node.name as string, result);
      return result;
    }
    case 'array': {
      const items = compile(node.items, named);
      return { kind: 'array', items, itemMin: minSize(items, new Set()) };
    }
    case 'map': {
      const values = compile(node.values, named);
      return { kind: 'map', values, itemMin: 1 + minSize(values, new Set()) };
    }
    default:
      return compile(node.type, named);
  }
}

/** The fewest bytes a value of the node can take (0 when unknown, e.g. recursion). */
function minSize(node: Node, visiting: Set<Node>): number {
  switch (node.kind) {
    case 'null':
      return 0;
    case 'float':
      return 4;
    case 'double':
      return 8;
    case 'fixed':
      return node.size;
    case 'union':
      return 1 + node.branches.reduce((least, b) => Math.min(least, minSize(b, visiting)), Number.POSITIVE_INFINITY);
    case 'record': {
      if (visiting.has(node)) return 0;
      visiting.add(node);
      const sum = node.fields.reduce((total, field) => total + minSize(field, visiting), 0);
      visiting.delete(node);
      return sum;
    }
    default:
      return 1;
  }
}

const EMPTY = new Uint8Array(0);

// Blocks of zero-size items cannot be bounded by the bytes left; cap them instead.
const MAX_EMPTY_ITEMS = 1_000_000;

/**
 * Compiles a Parsing Canonical Form schema (full names, no namespaces) into a checker that
 * throws BodyError unless bytes[start, bytes.length) is exactly one value of the schema.
 */
export function createBodyCheck(canonicalSchema: unknown): (bytes: Uint8Array, start: number) => void {
  const root = compile(canonicalSchema, new Map());
  let buf: Uint8Array = EMPTY;
  let pos = 0;

  // Zigzag varint; values beyond 2^53 lose precision, which is harmless: as a length, count or
  // index they are far out of range either way.
  function readLong(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new BodyError('truncated body');
      const byte = buf[pos++]!;
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 128;
    }
    throw new BodyError('varint longer than 10 bytes');
  }

  function skip(count: number): void {
    if (count < 0 || count > buf.length - pos) throw new BodyError('length runs past the end of the body');
    pos += count;
  }

  function blockCount(itemMin: number): number {
    let count = readLong();
    if (count < 0) {
      count = -count;
      if (readLong() < 0) throw new BodyError('negative block size');
    }
    const limit = itemMin === 0 ? MAX_EMPTY_ITEMS : (buf.length - pos) / itemMin;
    if (count > limit) throw new BodyError(`block count ${count} cannot fit in the body`);
    return count;
  }

  function walk(node: Node): void {
    switch (node.kind) {
      case 'null':
        return;
      case 'boolean': {
        if (pos >= buf.length) throw new BodyError('truncated body');
        if (buf[pos++]! > 1) throw new BodyError('invalid boolean');
        return;
      }
      case 'int': {
        const value = readLong();
        if (value < -2147483648 || value > 2147483647) throw new BodyError('int out of range');
        return;
      }
      case 'long': {
        if (!Number.isSafeInteger(readLong())) throw new BodyError('long beyond 2^53');
        return;
      }
      case 'float':
        skip(4);
        return;
      case 'double':
        skip(8);
        return;
      case 'bytes':
      case 'string':
        skip(readLong());
        return;
      case 'fixed':
        skip(node.size);
        return;
      case 'enum': {
        const index = readLong();
        if (index < 0 || index >= node.symbols) throw new BodyError('enum index out of range');
        return;
      }
      case 'union': {
        const index = readLong();
        const branch = node.branches[index];
        if (branch === undefined) throw new BodyError(`union index ${index} out of range`);
        walk(branch);
        return;
      }
      case 'record':
        for (const field of node.fields) walk(field);
        return;
      case 'array':
        for (let n = blockCount(node.itemMin); n !== 0; n = blockCount(node.itemMin)) {
          for (let i = 0; i < n; i++) walk(node.items);
        }
        return;
      case 'map':
        for (let n = blockCount(node.itemMin); n !== 0; n = blockCount(node.itemMin)) {
          for (let i = 0; i < n; i++) {
            skip(readLong());
            walk(node.values);
          }
        }
        return;
    }
  }

  return (bytes, start) => {
    buf = bytes;
    pos = start;
    try {
      walk(root);
      if (pos !== buf.length) throw new BodyError(`${buf.length - pos} trailing bytes after the body`);
    } finally {
      buf = EMPTY;
    }
  };
}
