/**
 * Removes OAuth secrets from any text before it is logged or shown: tokens, token secrets,
 * signatures, verifiers and consumer keys, wherever they appear as query or form parameters.
 */
const SECRET_PARAMS = [
  'oauth_token',
  'oauth_token_secret',
  'oauth_signature',
  'oauth_verifier',
  'oauth_consumer_key',
  'api_key',
  'api_sig',
]
const PATTERN = new RegExp(`((?:${SECRET_PARAMS.join('|')})(?:=|%3D|"\\s*:\\s*"))([^&\\s"',;]+)`, 'gi')

export function redact(text: string): string {
  return text.replace(PATTERN, '$1[redacted]')
}
