/** Every doctor check, in the order the report lists them. A new check is one file, added here. */
import type { DoctorCheck } from '../check.ts';
import { backupsCheck } from './backups.ts';
import { daemonCheck } from './daemon.ts';
import { deliveryCheck } from './delivery.ts';
import { homeCheck } from './home.ts';
import { jobsCheck } from './jobs.ts';
import { openClawCheck } from './openclaw.ts';
import { secretsCheck } from './secrets.ts';

export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  homeCheck,
  daemonCheck,
  jobsCheck,
  deliveryCheck,
  secretsCheck,
  backupsCheck,
  openClawCheck,
];
