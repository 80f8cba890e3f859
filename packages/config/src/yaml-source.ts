import { isMap, isNode, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { createConfigError, type ConfigIssue, type IssueLocator } from './issues.ts';

export type YamlSource = {
  readonly data: unknown;
  /** Where a key path sits in the file; for a missing key, where its nearest parent sits. */
  readonly locate: IssueLocator;
};

/**
 * The yaml library's messages end with a code frame quoting the offending line; that line may
 * hold a secret, so only the description before " at line" is kept and the position is ours.
 */
function describeYamlError(message: string): string {
  const cut = message.indexOf(' at line ');
  return (cut === -1 ? message.split('\n', 1)[0]! : message.slice(0, cut)).trim();
}

export function parseYamlSource(text: string, sourceName: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const issues: ConfigIssue[] = doc.errors.map((error) => {
      const position = lineCounter.linePos(error.pos[0]);
      return { path: [], message: `YAML syntax error: ${describeYamlError(error.message)}`, line: position.line, column: position.col };
    });
    throw createConfigError('CONFIG_INVALID', sourceName, 'Invalid YAML', issues);
  }
  const data: unknown = doc.toJS({ maxAliasCount: 100 });

  const locate: IssueLocator = (path) => {
    let node: unknown = doc.contents;
    let found: Node | undefined = isNode(node) ? node : undefined;
    let depth = 0;
    for (const segment of path) {
      if (isMap(node)) {
        // Point at the key itself (where a reader looks), descend through its value.
        const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
        if (pair === undefined) break;
        if (isNode(pair.key)) found = pair.key;
        node = pair.value;
        depth += 1;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item: unknown = node.items[segment];
        if (!isNode(item)) break;
        found = item;
        node = item;
        depth += 1;
      } else {
        break;
      }
    }
    if (found?.range === undefined || found.range === null) return undefined;
    const position = lineCounter.linePos(found.range[0]);
    return { line: position.line, column: position.col, exact: depth === path.length };
  };
  return { data, locate };
}
