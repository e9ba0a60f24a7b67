import { Type } from 'typebox';
import {
  Cached, CachedList, claimsOf, ConditionalHeaders, Created, etag, idempotencyKeyOf, IdempotencyHeaders, NotModified, NotModifiedWithPosition, Page,
  PageQuery, problems, sendConditional, TandemError, Username, type TandemHttpApp,
} from 'tandem/server';
import { channels } from '../channels';
import type { SocialContext } from '../context';
import { conversationMemberIds, conversationOfMessage, getConversation, isMember, listConversations, listMessages, markConversationRead, openConversation, sendMessage } from '../repos/conversations';
import { resolveUsernames } from '../repos/users';
import { Conversation, ConversationRead, Id, IdParams, Message, MessageBody } from '../schemas';
import { digest } from './digest';

export function registerConversationRoutes(app: TandemHttpApp, ctx: SocialContext): void {
  const { db, authenticate } = ctx;
  const tags = ['conversations'];

  app.post('/api/conversations', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Open a conversation with other members (returns the existing one for the same members)', headers: IdempotencyHeaders,
      body: Type.Object({ members: Type.Array(Username, { minItems: 1, maxItems: 20 }) }, { additionalProperties: false }),
      response: { 200: Created(Conversation, { location: true }), 201: Created(Conversation, { location: true }), ...problems(400, 401, 409, 422) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    // A bad key is refused before the members are looked at, as on every other create.
    idempotencyKeyOf(request);
    const ids = await resolveUsernames(db, request.body.members, 'body.members');
    const members = [userId, ...ids.values()];
    if (new Set(members).size < 2) {
      throw new TandemError('validation_failed', 'A conversation needs someone besides you', { errors: [{ field: 'body.members', message: 'must name another user' }] });
    }
    return ctx.createOnce(request, reply, `user:${userId}`, async (trx, log) => {
      const { conversation, created } = await openConversation(trx, log, members);
      return { status: created ? 201 : 200, body: conversation, headers: { location: `/api/conversations/${conversation.id}` } };
    });
  });

  app.get('/api/conversations', {
    preHandler: authenticate,
    schema: { tags, summary: 'Your conversations, the most recently active first, each with its last message and your unread count', querystring: PageQuery, headers: ConditionalHeaders, response: { 200: CachedList(Page(Conversation)), 304: NotModifiedWithPosition, ...problems(400, 401) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    return ctx.sendList(request, reply, {
      channel: channels.user(userId),
      scope: `conversations.${userId}`,
      // Members are drawn with their names and pictures: a profile edit changes the list.
      alsoDependsOn: [channels.people],
      policy: 'private',
      query: request.query,
      load: (trx, cursor, limit) => listConversations(trx, userId, cursor, limit),
    });
  });

  app.get('/api/conversations/:id', {
    preHandler: authenticate,
    schema: { tags, summary: 'One conversation you are in, with its members', params: IdParams, headers: ConditionalHeaders, response: { 200: Cached(Conversation), 304: NotModified, ...problems(400, 401, 404) } },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    // A non-member learns nothing, not even that the conversation exists.
    const conversation = await getConversation(db, id, userId);
    if (conversation === undefined) throw new TandemError('not_found', `Conversation ${id} does not exist`);
    // The answer is read whole anyway (members, last message, the viewer's read position), and its
    // members' names and avatars can change without the conversation's version moving: the tag is a
    // digest of the answer itself, so it changes exactly when anything in it does.
    return sendConditional(request, reply, { etag: etag('conversation', id, digest(JSON.stringify(conversation))), policy: 'private', build: () => conversation });
  });

  app.get('/api/conversations/:id/messages', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Messages of a conversation you are in, newest first', params: IdParams, querystring: PageQuery,
      headers: ConditionalHeaders, response: { 200: CachedList(Page(Message)), 304: NotModifiedWithPosition, ...problems(400, 401, 404) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const { id } = request.params;
    // A non-member learns nothing, not even that the conversation exists.
    if (!(await isMember(db, id, userId))) throw new TandemError('not_found', `Conversation ${id} does not exist`);
    return ctx.sendList(request, reply, {
      channel: channels.conversation(id),
      scope: `messages.${id}`,
      alsoDependsOn: [channels.people],
      policy: 'private',
      query: request.query,
      load: (trx, cursor, limit) => listMessages(trx, id, cursor, limit),
    });
  });

  app.post('/api/conversations/:id/messages', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Send a message to a conversation you are in', params: IdParams, headers: IdempotencyHeaders,
      body: Type.Object({ body: MessageBody }, { additionalProperties: false }),
      response: { 201: Created(Message), ...problems(400, 401, 404, 409, 413, 415, 422, 429) },
    },
  }, async (request, reply) => {
    const { userId } = claimsOf(request);
    const conversationId = request.params.id;
    return ctx.createOnce(request, reply, `user:${userId}`, async (trx, log) => {
      const memberIds = await conversationMemberIds(trx, conversationId);
      if (memberIds === undefined || !memberIds.includes(userId)) throw new TandemError('not_found', `Conversation ${conversationId} does not exist`);
      const message = await sendMessage(trx, log, { conversationId, authorId: userId, body: request.body.body, memberIds });
      return { status: 201, body: message };
    });
  });

  app.post('/api/conversations/:id/read', {
    preHandler: authenticate,
    schema: {
      tags, summary: 'Mark a conversation you are in read up to a message (a read position never moves back)', params: IdParams,
      body: Type.Object({ messageId: Id }, { additionalProperties: false }),
      response: { 200: ConversationRead, ...problems(400, 401, 404) },
    },
  }, async (request) => {
    const { userId } = claimsOf(request);
    const conversationId = request.params.id;
    const { messageId } = request.body;
    // Safe to retry: the same position twice is the position once, and nothing is appended the second time.
    return ctx.transaction(async (trx, log) => {
      // A non-member learns nothing, not even that the conversation exists.
      if (!(await isMember(trx, conversationId, userId))) throw new TandemError('not_found', `Conversation ${conversationId} does not exist`);
      if ((await conversationOfMessage(trx, messageId)) !== conversationId) {
        throw new TandemError('validation_failed', `Message ${messageId} is not in conversation ${conversationId}`, {
          errors: [{ field: 'body.messageId', message: 'is not a message of this conversation' }],
        });
      }
      return markConversationRead(trx, log, conversationId, userId, messageId);
    });
  });
}
