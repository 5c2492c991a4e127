/**
 * Message triggers (`{ type: 'message' }`): what the platform tells the trigger function about them.
 * An SQS record names only its queue (`eventSourceARN`), so the function finds the pipeline and the
 * trigger a message belongs to by its queue, in this list from its environment.
 */
import { z } from 'zod';
import { PipelineIdSchema, TriggerIdSchema } from '../pipeline.ts';

/** The trigger function's environment variable holding the deployment's message triggers (`MessageTriggersSchema`, as JSON). */
export const MESSAGE_TRIGGERS_ENV = 'PHI_MESSAGE_TRIGGERS';

/**
 * One enabled message trigger: the queue it reads, its pipeline and trigger, and whether a run is a
 * batch (`batchSize` above 1) rather than one message. Short keys: it travels in a 4 KB environment.
 */
export const MessageTriggerRouteSchema = z
  .object({
    /** The queue's ARN. */
    q: z.string().min(1),
    p: PipelineIdSchema,
    t: TriggerIdSchema,
    /** One run per batch SQS hands over, not per message. @default false */
    b: z.literal(1).optional(),
  })
  .strict();
export type MessageTriggerRoute = z.infer<typeof MessageTriggerRouteSchema>;

export const MessageTriggersSchema = z.array(MessageTriggerRouteSchema);
