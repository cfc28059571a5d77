// Socket paths: an explicit option wins, then the environment, then the upstream defaults
// (PROTOCOL.md section 2). Resolved at connect time so a changed environment is seen.

export const DEFAULT_UTMPD_SOCKET = '/run/utmps/.utmpd-socket';
export const DEFAULT_WTMPD_SOCKET = '/run/utmps/.wtmpd-socket';

/** Empty strings count as unset, as an empty path can never name a socket. */
export function utmpdSocketPath(explicit?: string): string {
  return explicit || process.env.UTMPS_UTMPD_SOCKET || DEFAULT_UTMPD_SOCKET;
}

export function wtmpdSocketPath(explicit?: string): string {
  return explicit || process.env.UTMPS_WTMPD_SOCKET || DEFAULT_WTMPD_SOCKET;
}

export const DEFAULT_BTMPD_SOCKET = '/run/utmps/.btmpd-socket';

export function btmpdSocketPath(explicit?: string): string {
  return explicit || process.env.UTMPS_BTMPD_SOCKET || DEFAULT_BTMPD_SOCKET;
}
