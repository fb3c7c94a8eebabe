import { CoordinatorClient } from './http-client.ts'
import { type ClientFlags, resolveSettings } from './settings.ts'

/** The client for a command's connection flags, the environment and the config file. */
export async function connect(flags: ClientFlags): Promise<CoordinatorClient> {
  const settings = await resolveSettings(flags)
  return new CoordinatorClient({ coordinator: settings.coordinator, token: settings.token })
}
