/** Every /api/v1 route, one file per noun. */
import type { ApiDeps } from '../deps.ts';
import type { ApiRoute } from '../route.ts';
import { alertRoutes } from './alerts.ts';
import { backupRoutes } from './backups.ts';
import { sessionRoutes } from './sessions.ts';
import { jobRoutes } from './jobs.ts';
import { runRoutes } from './runs.ts';
import { statusRoutes } from './status.ts';
import { doctorRoutes } from './doctor.ts';

export function apiRoutes(deps: ApiDeps, version: string): ApiRoute[] {
  return [
    ...statusRoutes(deps, version),
    ...doctorRoutes(deps, version),
    ...jobRoutes(deps),
    ...runRoutes(deps),
    ...backupRoutes(deps),
    ...sessionRoutes(deps),
    ...alertRoutes(deps),
  ];
}
