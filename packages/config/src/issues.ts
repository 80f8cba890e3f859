import { createError, type DirstreamError, type ErrorCode } from '@dirstream/errors';

/**
 * One problem found in a configuration file. `message` describes the problem without ever
 * quoting the offending value: a value in a config file may be a secret written inline by mistake.
 */
export type ConfigIssue = {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
  /** True when the key is missing and line/column point at the mapping it is missing from. */
  readonly inParent?: boolean;
};

/** Where a key path sits in the file; `exact` is false when only a parent of it exists there. */
export type IssueLocator = (path: readonly PropertyKey[]) => { line: number; column: number; exact: boolean } | undefined;

/** Adds the line and column of each issue's key (or of its nearest parent when the key is missing). */
export function locateIssues(issues: readonly ConfigIssue[], locate: IssueLocator | undefined): ConfigIssue[] {
  return issues.map((issue) => {
    if (issue.line !== undefined || locate === undefined) return issue;
    const position = locate(issue.path);
    if (position === undefined) return issue;
    // A key missing at the top level has no useful position.
    if (!position.exact && issue.path.length <= 1) return issue;
    return { ...issue, line: position.line, column: position.column, inParent: !position.exact };
  });
}

/** The configuration's codes: those of the one ErrorCode union (packages/errors) that start with CONFIG_. */
export type ConfigErrorCode = Extract<ErrorCode, `CONFIG_${string}`>;

/** `profiles[0].connection.urls[1]`: the key path as a reader of the YAML file would write it. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(top level)' : out;
}

function formatIssue(issue: ConfigIssue): string {
  const where =
    issue.line === undefined
      ? ''
      : issue.inParent === true
        ? ` (in the mapping at line ${issue.line})`
        : ` (line ${issue.line}, column ${issue.column ?? 1})`;
  return `  - ${formatKeyPath(issue.path)}${where}: ${issue.message}`;
}

/** The one error shape every configuration failure takes: file, then every issue on its own line. */
export function createConfigError(
  code: ConfigErrorCode,
  sourceName: string,
  headline: string,
  issues: readonly ConfigIssue[],
  cause?: unknown,
): DirstreamError {
  const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
  const message =
    issues.length === 0 ? `${headline}: ${sourceName}` : `${headline} in ${sourceName} (${count}):\n${issues.map(formatIssue).join('\n')}`;
  return createError(code, message, {
    cause,
    details: {
      file: sourceName,
      issues: issues.map((issue) => ({
        path: formatKeyPath(issue.path),
        message: issue.message,
        line: issue.line,
        column: issue.column,
      })),
    },
  });
}
