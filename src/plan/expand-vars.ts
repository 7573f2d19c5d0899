/** A var whose value is a list makes one case per item; several such vars make every combination (promptfoo). */
export function expandVars(vars: Record<string, unknown>): Record<string, unknown>[] {
  // No list: the one case shares the test's vars (a large suite has tens of thousands of tests; no copy of each).
  if (!Object.values(vars).some((value) => Array.isArray(value) && value.length > 0)) return [vars];
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, value] of Object.entries(vars)) {
    const options = Array.isArray(value) && value.length > 0 ? value : [value];
    combos = combos.flatMap((combo) => options.map((option) => ({ ...combo, [key]: option })));
  }
  return combos;
}
