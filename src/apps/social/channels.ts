/** The social app's channel names; REST list ETags and realtime share these positions. */
export const channels = {
  feed: 'feed',
  post: (id: number) => `post:${id}`,
  user: (id: number) => `user:${id}`,
  conversation: (id: number) => `conversation:${id}`,
  online: 'online',
  /** Profile edits (name, bio, avatar) of everyone: lists that embed people depend on its position. */
  people: 'people',
} as const;
