/**
 * Resolves once `condition` holds, asked every `everyMs`: for what another process does to files,
 * where there is no event to await (the test CDN's `until` is the event for what reaches the
 * network). No deadline: the test's timeout is the bound, so a loaded machine makes it slower,
 * never wrong. Also resolves, and stops asking, once `or` settles (the run or child process that
 * should have made it true ended first: the caller's next assertion says what went wrong).
 */
export async function pollUntil(
  condition: () => boolean | Promise<boolean>,
  { everyMs = 20, or }: { everyMs?: number; or?: Promise<unknown> } = {},
): Promise<void> {
  let over = false;
  const end = () => (over = true);
  or?.then(end, end);
  while (!over && !(await condition())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}
