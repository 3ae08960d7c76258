import { homedir } from 'node:os';
import { join } from 'node:path';

/** `--cache`, else $FRAGFETCH_CACHE, else the platform's per-user cache folder (as npm and hf do). */
export function defaultCacheDir(
  env: Record<string, string | undefined>,
  platform = process.platform,
): string {
  if (env.FRAGFETCH_CACHE) return env.FRAGFETCH_CACHE;
  const home = env.HOME ?? env.USERPROFILE ?? homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'fragfetch');
  if (platform === 'win32')
    return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'fragfetch', 'Cache');
  return join(env.XDG_CACHE_HOME || join(home, '.cache'), 'fragfetch');
}
