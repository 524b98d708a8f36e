/**
 * How large V8's young generation may grow in a long-lived process (the mount) or a big one (a
 * pin: a first pin of 1,000,000 items holds its whole first catalog until its tree is written).
 *
 * V8 doubles the young generation (two semi-spaces) after scavenges that keep much alive, up to
 * 16 MB a semi-space on 64-bit: 32 MB that loading a catalog fills once and a mount then keeps
 * committed for as long as it runs. `--max-semi-space-size` can only be given on node's command
 * line, which an npm bin does not control; `--semi-space-growth-factor=1`, set at run time, stops
 * the growth where it is. So: let it grow as V8 would until `semiSpaceMb`, then stop it there.
 * At 100,000 items an offline mount's peak fell from 327 to 290 MB with 8 MB semi-spaces (4 MB
 * saved less: more was promoted), for ~14% more CPU while the catalog loads (bench/RESULTS.md,
 * "The mount's young generation").
 */
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8'
import { afterGcWhen } from './old-generation.js'

export function capYoungGeneration(semiSpaceMb: number): void {
  const capBytes = 2 * semiSpaceMb * 1024 * 1024
  const reached = (): boolean => (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) >= capBytes
  afterGcWhen(reached, () => setFlagsFromString('--semi-space-growth-factor=1'))
}
