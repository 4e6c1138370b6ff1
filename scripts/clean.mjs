// Removes the build output so files deleted from src/ or test/ cannot linger in dist/.
import { rmSync } from 'node:fs';
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
