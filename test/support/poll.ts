/**
 * Resolves once `condition` holds, asked every `everyMs`: for what another process does to files,
 * where there is no event to await (the test CDN's `until` is the event for what reaches the
 * network). No deadline: the test's timeout is the bound, so a loaded machine makes it slower,
 * never wrong.
 */
export async function pollUntil(condition: () => boolean | Promise<boolean>, everyMs = 20): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}
