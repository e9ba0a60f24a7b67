import type { SettingsOf, TandemContext } from 'tandem/server';
import type { SocialDb } from './db';
import type { socialSettings } from './settings';

export type SocialSettings = SettingsOf<typeof socialSettings>;

/** What the social app's routes, channel policies and seed get from the library. */
export type SocialContext = TandemContext<SocialDb, SocialSettings>;
