/**
 * The table, built from the same shape the store and the local stack use (`core/store/schema.ts`): no key, index or
 * TTL name is written here.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import {
  type Attribute,
  AttributeType,
  BillingMode,
  ProjectionType,
  StreamViewType,
  Table,
  TableEncryption,
} from 'aws-cdk-lib/aws-dynamodb';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { HISTORY_QUERY_ACTIONS, LEASE_INDEX_ACTIONS, TABLE_ACTIONS } from '../core/store/permissions.js';
import { TABLE_SHAPE } from '../core/store/schema.js';

const attribute = (key: { name: string; type: 'S' | 'N' }): Attribute => ({
  name: key.name,
  type: key.type === 'S' ? AttributeType.STRING : AttributeType.NUMBER,
});

export class StreamTable extends Construct {
  readonly table: Table;
  readonly leaseIndexName = TABLE_SHAPE.leaseIndex.name;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    const { partitionKey, sortKey, ttlAttribute, leaseIndex, stream } = TABLE_SHAPE;
    this.table = new Table(this, 'Table', {
      partitionKey: attribute(partitionKey),
      sortKey: attribute(sortKey),
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: ttlAttribute,
      stream: StreamViewType[stream],
      encryption: TableEncryption.AWS_MANAGED,
      // The counts are the product's state: neither `cdk destroy` nor a replaced resource may drop them.
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: leaseIndex.name,
      partitionKey: attribute(leaseIndex.partitionKey),
      sortKey: attribute(leaseIndex.sortKey),
      projectionType: ProjectionType.INCLUDE,
      nonKeyAttributes: leaseIndex.nonKeyAttributes,
    });
  }

  /** The item actions the store uses, on the table only (not its indexes). */
  grantItems(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...TABLE_ACTIONS], resources: [this.table.tableArn] }),
    );
  }

  /** Query on the table itself, for the support API's audit history and hourly usage (one partition each). */
  grantHistoryQuery(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...HISTORY_QUERY_ACTIONS], resources: [this.table.tableArn] }),
    );
  }

  /** Query on the lease index, for the sweep. */
  grantLeaseQuery(grantee: IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: [...LEASE_INDEX_ACTIONS],
        resources: [`${this.table.tableArn}/index/${this.leaseIndexName}`],
      }),
    );
  }
}
