/** A var whose value is a list makes one case per item; several such vars make every combination (promptfoo). */
export function expandVars(vars: Record<string, unknown>): Record<string, unknown>[] {
  let combos: Record<string, unknown>[] = [{}];
  for (const [key, value] of Object.entries(vars)) {
    const options = Array.isArray(value) && value.length > 0 ? value : [value];
    combos = combos.flatMap((combo) => options.map((option) => ({ ...combo, [key]: option })));
  }
  return combos;
}
