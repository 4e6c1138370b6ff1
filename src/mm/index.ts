// The mirror master's public API: run mm once, start a long-running supervisor, or use the
// machines and actors directly (see docs/mm.md and docs/statecharts-mm.md).
export {
  runMm,
  startMmSupervisor,
  readMmInputs,
  defaultOmirrCommand,
  MmInputError,
  type MmInputText,
  type MmRunResult,
  type RunMmOptions,
  type MmSupervisorOptions,
  type StartMmSupervisorOptions,
  type MmSupervisorHandle,
} from './runMm.js';
export { provideMmSupervisor, provideMmJob, type MmIoOptions } from './mmLogic.js';
export {
  mmJobMachine,
  jobActorId,
  type MmJobSpec,
  type MmJobInput,
  type MmJobResult,
  type MmJobOutcome,
  type MmJobNotice,
  type MmJobActorRef,
} from '../machines/mmJob.js';
export {
  mmSupervisorMachine,
  DEFAULT_MAX,
  type MmSupervisorInput,
  type MmSupervisorOutput,
  type MmSupervisorNotice,
  type MmCommandResult,
  type MmSupervisorActorRef,
} from '../machines/mmSupervisor.js';
export { MmStatusStore, STATUS_FILE } from '../actors/mmStatusStore.js';
export { isHolderAlive } from '../actors/mmLiveness.js';
