export { applyInstall, checkRef, planInstall, type InstallOptions, type InstallPlan, type PlannedFile } from "./install.ts";
export { uninstall, type UninstallOptions, type UninstallResult } from "./uninstall.ts";
export { instanceStatus, listInstances, type InstanceStatus, type ListedInstance } from "./status.ts";
export { SERVICE_PLATFORMS, type InstanceRef, type ServicePlatform } from "./_layout.ts";
export { shippedFiles } from "./shipped.ts";
