/**
 * Why the directory refused a bind, read from the result. Active Directory (and Samba) put a
 * "data NNN" sub-code in the diagnostic message of an invalidCredentials (49) result
 * (`80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data 52e, v1db1`);
 * the sub-code is the Win32 error of the logon attempt. Other servers say only 49.
 */

/** What a refused bind means for the caller. */
export type BindRefusal =
  | 'invalid-credentials'
  | 'account-disabled'
  | 'account-expired'
  | 'password-expired'
  | 'password-must-change'
  | 'account-locked'
  | 'logon-hours'
  | 'workstation-restricted';

/** AD data codes (Win32 errors, hex) → refusal. Unknown codes read as invalid credentials. */
export const AD_DATA_CODES: Readonly<Record<string, BindRefusal>> = {
  '525': 'invalid-credentials', // ERROR_NO_SUCH_USER: same answer as a wrong password
  '52e': 'invalid-credentials', // ERROR_LOGON_FAILURE
  '530': 'logon-hours', // ERROR_INVALID_LOGON_HOURS
  '531': 'workstation-restricted', // ERROR_INVALID_WORKSTATION
  '532': 'password-expired', // ERROR_PASSWORD_EXPIRED
  '533': 'account-disabled', // ERROR_ACCOUNT_DISABLED
  '701': 'account-expired', // ERROR_ACCOUNT_EXPIRED
  '773': 'password-must-change', // ERROR_PASSWORD_MUST_CHANGE (pwdLastSet = 0)
  '775': 'account-locked', // ERROR_ACCOUNT_LOCKED_OUT
};

const DATA_CODE = /\bdata ([0-9a-f]{3,8})\b/i;

/** The AD sub-code in a diagnostic message (lowercase hex), or null when there is none. */
export function adDataCode(diagnosticMessage: string): string | null {
  const match = DATA_CODE.exec(diagnosticMessage);
  return match?.[1] === undefined ? null : match[1].toLowerCase();
}

/** The refusal a bind error's diagnostic message stands for (anything unknown: invalid credentials). */
export function refusalOf(diagnosticMessage: string): BindRefusal {
  const code = adDataCode(diagnosticMessage);
  return code === null ? 'invalid-credentials' : (AD_DATA_CODES[code] ?? 'invalid-credentials');
}
