/**
 * The floors a swarm's completion times are measured against. A peer cannot finish sooner than its
 * own link carries the file, nor sooner than the origin's link carries it once (the first copy has
 * to leave the origin: Kumar-Ross's F/u_s term). On top of that, every byte crosses the links in
 * frames whose headers the token bucket also counts, so the payload floor is the link floor times
 * the frame overhead.
 */

/** The simulated links' MTU (veth default). */
export const MTU_BYTES = 1500;
/**
 * Headers in every full-sized frame of a bulk TCP transfer here: tc's token bucket meters the frame
 * as the qdisc sees it, with its 14-byte Ethernet header (a veth has no preamble, FCS or gap), and
 * inside the MTU go the IPv4 header (20), the TCP header (20) and the timestamp option Linux puts
 * in every segment (12, with its padding).
 */
export interface FrameHeaders {
  readonly ethernetBytes: number;
  readonly ipv4Bytes: number;
  readonly tcpBytes: number;
  readonly tcpTimestampBytes: number;
}

export const FRAME_HEADERS: FrameHeaders = Object.freeze({ ethernetBytes: 14, ipv4Bytes: 20, tcpBytes: 20, tcpTimestampBytes: 12 });

/**
 * Wire bytes per payload byte of full-sized segments: (MTU + Ethernet) / (MTU - IP - TCP - options)
 * = 1514 / 1448 = 1.0456 with the defaults. ACKs travel the other way and are not counted here.
 */
export function payloadOverheadFactor(mtuBytes = MTU_BYTES, headers: FrameHeaders = FRAME_HEADERS): number {
  const payload = mtuBytes - headers.ipv4Bytes - headers.tcpBytes - headers.tcpTimestampBytes;
  return (mtuBytes + headers.ethernetBytes) / payload;
}

export interface Floors {
  /** max(size / the peer's rate, size / the origin's rate), in seconds. */
  readonly linkSeconds: number;
  /** The link floor with every payload byte carried in full frames (x payloadOverheadFactor). */
  readonly payloadSeconds: number;
  /** Which link sets the floor. */
  readonly boundBy: 'peer' | 'origin';
}

/** The floors of a peer whose link runs at `peerRateBps` behind an origin at `originRateBps`. */
export function floorsOf(sizeBytes: number, peerRateBps: number, originRateBps: number): Floors {
  const bits = sizeBytes * 8;
  const peer = bits / peerRateBps;
  const origin = bits / originRateBps;
  const linkSeconds = Math.max(peer, origin);
  return { linkSeconds, payloadSeconds: linkSeconds * payloadOverheadFactor(), boundBy: origin > peer ? 'origin' : 'peer' };
}
