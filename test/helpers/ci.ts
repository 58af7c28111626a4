/** Whether the tests run in CI: `CI` set to anything but empty, "0" or "false" (so `CI=false` is a local run). */
export const IN_CI = !!process.env.CI && !['', '0', 'false'].includes(process.env.CI.trim().toLowerCase());
