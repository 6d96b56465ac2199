/**
 * How many children a forest member feeds at once. A stripe carries 1/k of the file, so a host
 * with the median uplink can feed k children at the stripe rate; a host with twice the median, 2k.
 * The median (not the mean) keeps one fast seed or one slow laptop from rescaling everyone.
 */

/** The median of `values`, the mean of the middle two for an even count; 0 for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * clamp(round(k * maxTx / medianMaxTx), 1, 4k). An unknown median (0: no host announced its
 * bandwidth) treats the member as a median one, k slots, rather than starving everyone to one slot.
 * The cap keeps one very fast host from gathering a subtree so wide that its loss orphans most of
 * a stripe.
 */
export function stripeSlots(stripes: number, maxTxBandwidth: number, medianMaxTxBandwidth: number): number {
  if (medianMaxTxBandwidth <= 0) return stripes;
  const slots = Math.round((stripes * Math.max(0, maxTxBandwidth)) / medianMaxTxBandwidth);
  return Math.min(4 * stripes, Math.max(1, slots));
}
