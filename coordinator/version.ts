// SPDX-License-Identifier: GPL-3.0-or-later
/** The spikeshard version, written into every run folder and output. Kept equal to package.json's (a test checks). */
export const VERSION = '0.1.0';
